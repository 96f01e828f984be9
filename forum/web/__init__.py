"""The web layer: thin handlers (parse, access, one do_* call, respond), templates, middleware."""
