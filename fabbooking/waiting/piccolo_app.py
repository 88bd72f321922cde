import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="waiting",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["fabbooking.waiting.tables"], exclude_imported=True),
    migration_dependencies=["fabbooking.accounts.piccolo_app", "fabbooking.network.piccolo_app"],
    commands=[],
)
