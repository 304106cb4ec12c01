"""Pipeline files: a declarative YAML of the suite's steps (ingest, build, analyses, training,
promotion, forecast), run step by step through the services with content-addressed steps.

`spec` loads and validates a file, `state` keys the steps and keeps what they produced,
`steps` runs each kind of step, `runner` puts them in order, `commands` is `weatherctl pipeline`.
"""
