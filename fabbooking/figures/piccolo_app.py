"""The figures own no Piccolo table: only the history stamp that the database keeps for the
cache of closed months (fabbooking/figures/kept_months.py), created by raw SQL after every
table it watches."""

import os

from piccolo.conf.apps import AppConfig

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="figures",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[],
    migration_dependencies=["fabbooking.projects.piccolo_app", "fabbooking.workshops.piccolo_app"],
    commands=[],
)
