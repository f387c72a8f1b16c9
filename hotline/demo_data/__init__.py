"""The demo's data: region-true elders, providers, the catalogue and the demo accounts.

Used by ``hotline demo``, ``hotline seed``, the benchmarks and the tests; never by the domain
modules, which know nothing of demo data.
"""
