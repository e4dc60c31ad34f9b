"""Flask app with a little real work per request: GET / returns a ~5 KB JSON
document built from 40 records, so routing, dict building and json encoding
cost about as much as a small real endpoint."""
import os

from flask import Flask, jsonify

# root_path is given because --wsgi-file imports this file under a generated
# module name, which Flask could not locate by itself.
app = Flask(__name__, root_path=os.path.dirname(os.path.abspath(__file__)))


def records(n):
    return [{"id": i, "name": "record %d" % i, "score": i * 7 % 13,
             "even": i % 2 == 0, "labels": ["a%d" % (i % 4), "b%d" % (i % 6)]}
            for i in range(n)]


@app.route("/")
def index():
    rows = records(40)
    return jsonify(app="bench", count=len(rows),
                   total=sum(r["score"] for r in rows), rows=rows)


application = app
