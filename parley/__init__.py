"""Parley: a self-hosted, faithful Twilio Programmable Chat v2.

Public surface: :func:`parley.app.build_app` and :class:`parley.config.Settings`.
"""

__version__ = "0.1.0"
