"""`cunet serve`: the separation studio, a page and an HTTP API over `Separator.separate_file`.

uploads  the request body streamed to disk under a size limit
storage  job folders, their state written last, conversions, expiry
jobs     the bounded queue and the worker(s) sharing one loaded `Separator`
info     what the page says about the model
app      the routes (`create_app`); the page itself is static/ (plain HTML, JS, CSS)
"""
