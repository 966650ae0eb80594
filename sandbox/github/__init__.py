"""GitHub REST API stand-in: the endpoints cytube.shipit uses, validated against GitHub's OpenAPI description."""
