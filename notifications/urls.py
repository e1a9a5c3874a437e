from django.urls import path

from notifications import api

urlpatterns = [
    path("", api.FeedApi.as_view(), name="notification-feed"),
    path("unread_count/", api.UnreadCountApi.as_view(), name="notification-unread-count"),
    path("read/", api.MarkReadApi.as_view(), name="notification-read"),
]
