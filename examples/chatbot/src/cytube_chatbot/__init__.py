"""cytube-chatbot: an example CyTube bot written the way many third-party bots are.

It reads a JSON config with the password inline, keeps an SQLite file in its
working directory, has no health endpoint and no config check, and never says
its version. cytube.shipit deploys and verifies it through the bot contract
(docs/bots.md).
"""
