"""The profile as the User admin shows it. The User admin itself is notifications/admin.py:
its Deactivate action also closes the user's sockets, which accounts knows nothing of."""

from django.contrib import admin

from accounts.models import Profile


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    # One profile per user. A user made here or by createsuperuser has none until it is filled
    # in below or they edit their own: the API shows the empty profile meanwhile.
    max_num = 1
    min_num = 0
