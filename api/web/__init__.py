"""The web library at ``/``: server-rendered pages over the public API's own answers.

Each page calls the same route functions the JSON API answers with (a page
never knows more than ``GET /assets`` does) and links to that JSON; the
browser fetches images, video and waveforms from the API's content route.
See api/web/pages.py for the routes and api/auth.py for the key cookie.
"""
