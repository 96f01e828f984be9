"""Entrepairs: the forum (members, spaces, threads, posts) and the web app that serves it."""
