"""Shared infrastructure the apps build on: the API kit, JSON, COPY, mail, the embedded server.

Nothing here knows about incidents; every app may import it, and it imports no app.
"""
