from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "type", "created_at", "read_at")
    list_filter = ("type",)
    search_fields = ("recipient__username",)
    raw_id_fields = ("recipient",)
