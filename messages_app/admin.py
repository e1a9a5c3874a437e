from django.contrib import admin

from messages_app.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "sender", "receiver", "is_read", "created_at")
    list_filter = ("is_read",)
    search_fields = ("sender__username", "receiver__username", "content")
    raw_id_fields = ("sender", "receiver")
