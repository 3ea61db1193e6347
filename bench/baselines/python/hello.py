"""The Python floor, for context: a hello-world handler under the same runtime interface client."""


def handler(event, context):
    return {"message": "Hello, world!"}
