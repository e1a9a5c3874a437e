from urllib.parse import urlsplit

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.admin import ProfileInline
from accounts.models import User
from notifications import services
from notifications.models import Notification, PushSubscription


# Here rather than in accounts: deactivating closes the user's sockets too.
@admin.register(User)
class NumeneonUserAdmin(UserAdmin):
    actions = ["deactivate"]
    inlines = [ProfileInline]

    @admin.action(description="Deactivate: block login and close their open sockets")
    def deactivate(self, request, queryset):
        for user in queryset.filter(is_active=True):
            services.user_deactivate(user=user)

    def save_model(self, request, obj, form, change):
        # Unticking "active" must go through the service, which also closes the sockets.
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivating:
            services.user_deactivate(user=obj)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "type", "created_at", "read_at")
    list_filter = ("type",)
    search_fields = ("recipient__username",)
    raw_id_fields = ("recipient",)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "push_service", "created_at")
    search_fields = ("user__username", "endpoint")
    raw_id_fields = ("user",)
    readonly_fields = ("endpoint", "p256dh", "auth", "created_at")

    @admin.display(description="push service")
    def push_service(self, subscription: PushSubscription) -> str:
        return urlsplit(subscription.endpoint).hostname or ""
