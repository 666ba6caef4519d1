"""harvest's spiders: the config-driven spider, and any Python spiders added to this package."""
