"""Screens pushed over the main view: full-screen reader, help, folder picker (compose and setup live here too)."""
