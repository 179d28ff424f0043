"""The AST analysis behind ``zerotls audit code``: one pass per scope, simple value tracking.

Theory of operation
-------------------
The source is parsed with :mod:`ast`; nothing is imported or run. Each scope (the module, each
function, each class body) is walked statement by statement, in order, with an environment
that maps names to abstract values (:mod:`._values`):

* imports bind names to dotted qualified names, so ``import ssl as s`` and
  ``from ssl import CERT_NONE`` both resolve to the real ``ssl`` names;
* assignments bind names (and simple dotted paths such as ``self.ctx``) to the value of the
  right-hand side; calls we model return tracked objects (``ssl.create_default_context()``
  gives an SSL context, ``socket.create_connection(...)`` a socket);
* statements then update the tracked objects: ``ctx.check_hostname = False``,
  ``sock.connect((host, port))``, ``ctx.wrap_socket(sock)``.

Rules that depend on what happens *later* (a pyOpenSSL context never given a protocol floor,
a socket never wrapped in TLS) are judged once every scope has been walked, so a nested
function that fixes an object counts. An object passed to code we cannot see (returned,
stored in an attribute or a container, given to an unknown function) "escapes": such rules
then stay silent rather than guess.

Branches are not merged: a later assignment wins, except inside ``except`` handlers, which
never override an existing binding (the ``try: import x / except ImportError: x = None``
idiom keeps the import). Function bodies are walked after the scope that defines them, with
that scope's final bindings visible (closures and module globals).

What is deliberately not done: no inter-procedural analysis, no attribute tracking across
methods, no evaluation of arbitrary expressions. Values that cannot be resolved are unknown,
and unknown values never trigger a rule, except where a rule is about the destination being
unknown (NET002).

Layout
------
:mod:`.core` walks the tree, tracks values and judges what a value means wherever it appears
(a legacy protocol selected, ``check_hostname = False``). What a call, a method or a tracked
object means is each library's model: a module (:mod:`.tls`, :mod:`.pyopenssl`,
:mod:`.httpclients`, :mod:`.network`, :mod:`.hashes`, :mod:`.crypto`, :mod:`.ssh`) whose
:class:`~.base.Model` maps called names, method names and object kinds to handler functions.
:mod:`.registry` merges the models into the tables the core consults; the models import only
:mod:`.base`, never the core.
"""

from __future__ import annotations

from zerotls.codeaudit._analysis.base import Hit
from zerotls.codeaudit._analysis.core import analyse

__all__ = ["Hit", "analyse"]
