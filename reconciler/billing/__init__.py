"""Invoice lines computed from what the platforms recorded: the pure part of `reconcile billing`.

:mod:`.invoice` holds the shared shape (an :class:`~.invoice.Invoice` of
:class:`~.invoice.InvoiceLine`, each with its priced items, and what was left unbilled, with why),
which every billing command fills and :mod:`.formats` writes as CSV, JSON or Markdown. How a
platform's records become lines is the platform's own (its descriptor's ``bill_calls``).
"""
