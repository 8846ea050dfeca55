"""The baseline the benchmark compares against: a bare Flask app doing one
Redis GET and one SET per request, under the same gunicorn flags.

It reads the same webhook form and answers an empty TwiML, so the difference
in the figures is what the helpline adds: the signature check, the lock, the
session load and save, the engine and the TwiML.
"""
import os

import redis
from flask import Flask, Response, request

app = Flask(__name__)
r = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.post("/twilio/messages")
def messages():
    key = "base:" + request.form.get("From", "")
    r.get(key)
    r.set(key, request.form.get("Body", ""), ex=86400)
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response />', mimetype="application/xml")
