"""Server-rendered pages: templating, guards (login, CSRF), and the page modules."""
