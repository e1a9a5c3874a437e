from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts import services
from accounts.models import Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    # One profile per user. A user made here or by createsuperuser has none until it is filled
    # in below or they edit their own: the API shows the empty profile meanwhile.
    max_num = 1
    min_num = 0


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
