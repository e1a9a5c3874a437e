from django.urls import path

from web import views

urlpatterns = [
    path("", views.index, name="index"),
    path("push-sw.js", views.push_service_worker, name="push-service-worker"),
]
