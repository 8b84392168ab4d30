"""FastAPI apps of the platform: the 互认 lookup service and the FHIR read API.

They run inside the Airflow 3 API server (``plugins/rhp_plugin.py``) or alone
(``python -m plugins.rhp_api.serve``). All logic lives in ``transforms.recognition`` and
``transforms.api_security``; these modules only translate HTTP.
"""
