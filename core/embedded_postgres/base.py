"""Django's PostgreSQL backend, pointed at the embedded server on first use."""

from django.db.backends.postgresql import base

from core.embedded_postgres import create_database, ensure_server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        pgdata = self.settings_dict["PGDATA"]
        server = ensure_server(pgdata)
        self.settings_dict["HOST"], self.settings_dict["PORT"] = server["host"], server["port"]
        if self.settings_dict["NAME"] not in (None, "", "postgres"):
            # A fresh data folder has only the maintenance database.
            create_database(pgdata, self.settings_dict["NAME"])
        return super().get_connection_params()
