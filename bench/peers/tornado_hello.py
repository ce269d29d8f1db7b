"""The hello app on Tornado, for bench/run: GET / answers "Hello, world".

    /usr/bin/python3 bench/peers/tornado_hello.py --port N [--host H]

One process, one IOLoop; debug off, no access log (Tornado logs nothing until
logging is configured, and we configure none).
"""
import argparse

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    app = tornado.web.Application([(r"/", HelloHandler)], debug=False)
    server = tornado.httpserver.HTTPServer(app)
    # A deep backlog, so 10,000 connections arriving together are not dropped.
    server.add_sockets(tornado.netutil.bind_sockets(args.port, args.host, backlog=4096))
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
