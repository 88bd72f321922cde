"""The references own no Piccolo table: only the change counters that the database keeps for
what is kept between requests (fabbooking/references/kept.py), created by raw SQL after every
table they watch."""

import os

from piccolo.conf.apps import AppConfig

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="references",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[],
    migration_dependencies=["fabbooking.accounts.piccolo_app", "fabbooking.network.piccolo_app",
                            "fabbooking.training.piccolo_app"],
    commands=[],
)
