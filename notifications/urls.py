from django.urls import path

from notifications import api

urlpatterns = [
    path("", api.FeedApi.as_view(), name="notification-feed"),
    path("unread_count/", api.UnreadCountApi.as_view(), name="notification-unread-count"),
    path("read/", api.MarkReadApi.as_view(), name="notification-read"),
    path("vapid-public-key/", api.VapidPublicKeyApi.as_view(), name="push-public-key"),
    path("subscribe/", api.SubscribeApi.as_view(), name="push-subscribe"),
    path("unsubscribe/", api.UnsubscribeApi.as_view(), name="push-unsubscribe"),
]
