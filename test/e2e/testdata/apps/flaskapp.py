"""A small Flask app (python3-flask): routing, JSON, form posts, 404s."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "flask index\n"


@app.route("/json")
def as_json():
    return jsonify(args=request.args.to_dict(flat=False), path=request.path)


@app.route("/form", methods=["POST"])
def form():
    return jsonify(form=request.form.to_dict(flat=False))


@app.route("/cookie")
def cookie():
    resp = app.make_response("cookies\n")
    resp.set_cookie("a", "1")
    resp.set_cookie("b", "2")
    return resp


application = app
