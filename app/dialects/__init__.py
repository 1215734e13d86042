"""Inbound dialects: other clients' APIs translated onto Ferry's one pipeline (issue 14).

Each dialect is a translator, not a pipeline of its own. Its ``*_wire`` module holds pure functions
(no Flask, no Redis): the dialect's request body becomes the OpenAI chat.completions body that
``POST /v1/chat/completions`` would run (workers/services/chat_request.py parses it), and the job's
result (a ``chat.completion``, workers/services/outputs.py) becomes the dialect's answer, its stream
events and its error shape. Its ``*_api`` module is the blueprint: authenticate as that SDK does, run
the body as an ordinary job through :mod:`app.dialects.common` (so it is visible at
``GET /v1/jobs/{id}``, with webhooks, idempotency, tenancy and a ``ferry`` extension object for dry runs),
answer in the dialect.

- Anthropic Messages: ``POST /v1/messages``, ``POST /v1/messages/count_tokens`` (anthropic_wire, anthropic_api)
- Gemini: ``POST /v1beta|v1/models/{model}:generateContent | :streamGenerateContent`` (gemini_wire, gemini_api)
- OpenAI Responses: ``POST /v1/responses``, ``GET /v1/responses/{id}``, ``POST /v1/responses/{id}/cancel``
  (responses_wire, responses_api)

A model is ``provider/model`` in every dialect; a bare name means the dialect's own provider.
"""
