# The WebSocket ticket belongs to the socket it opens: the model moves to notifications
# (notifications 0007). Only Django's idea of the models changes; the table and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_user_date_joined_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='WebSocketTicket'),
            ],
            database_operations=[],
        ),
    ]
