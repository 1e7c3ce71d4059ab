"""The local web app and REST API (``faceplay serve``).

:func:`faceplay.web.app.create_app` builds the ASGI app; pages live in
``static/``, the REST API in :mod:`.api`, the live WebSocket loop in
:mod:`.live`, background jobs in :mod:`.jobs`, upload checks in :mod:`.uploads`.
Importing this package loads no model.
"""
