from django.urls import path

from friends import api

urlpatterns = [
    path("", api.FriendListApi.as_view(), name="friend-list"),
    path("suggestions/", api.SuggestionsApi.as_view(), name="friend-suggestions"),
    path("requests/", api.IncomingRequestsApi.as_view(), name="friend-requests"),
    path("requests/sent/", api.OutgoingRequestsApi.as_view(), name="friend-requests-sent"),
    path("request/<id:user_id>/", api.SendRequestApi.as_view(), name="friend-request"),
    path("accept/<id:request_id>/", api.AcceptRequestApi.as_view(), name="friend-accept"),
    path("decline/<id:request_id>/", api.DeclineRequestApi.as_view(), name="friend-decline"),
    path("cancel/<id:user_id>/", api.CancelRequestApi.as_view(), name="friend-cancel"),
    path("remove/<id:user_id>/", api.RemoveFriendApi.as_view(), name="friend-remove"),
]
