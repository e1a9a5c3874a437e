from django.apps import AppConfig


class MessagesAppConfig(AppConfig):
    name = "messages_app"
    label = "messages_app"
