"""Local fakes of the services the connectors read, for the workspace's tests and benchmarks.

One public module per service (:mod:`cs_fakes.salesforce`, :mod:`cs_fakes.hubspot`,
:mod:`cs_fakes.zendesk`), all built on :mod:`cs_fakes.server`.
"""
