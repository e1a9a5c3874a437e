from django.urls import path

from messages_app import api

urlpatterns = [
    path("", api.SendMessageApi.as_view(), name="message-send"),
    path("conversations/", api.ConversationListApi.as_view(), name="conversations"),
    path("conversation/<id:user_id>/", api.ThreadApi.as_view(), name="conversation"),
    path("conversation/<id:user_id>/read/", api.MarkReadApi.as_view(), name="conversation-read"),
    path("read_all/", api.MarkReadAllApi.as_view(), name="read-all"),
    path("unread_count/", api.UnreadCountApi.as_view(), name="message-unread-count"),
]
