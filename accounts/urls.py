from django.urls import path

from accounts import api

urlpatterns = [
    path("signup/", api.SignupApi.as_view(), name="signup"),
    path("login/", api.LoginApi.as_view(), name="login"),
    path("token/refresh/", api.RefreshApi.as_view(), name="token-refresh"),
    path("logout/", api.LogoutApi.as_view(), name="logout"),
    path("me/", api.MeApi.as_view(), name="me"),
    path("profile/", api.ProfileApi.as_view(), name="profile"),
    path("search/", api.SearchApi.as_view(), name="search"),
    path("users/<str:username>/", api.UserDetailApi.as_view(), name="user-detail"),
]
