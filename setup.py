"""For `scrapyd-deploy`, which builds an egg with `python setup.py bdist_egg`; everything is in pyproject.toml
(including the `scrapy` entry point that names the project's settings module)."""
from setuptools import setup

setup()
