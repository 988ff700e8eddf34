#!/usr/bin/env python3
"""`lightvlm serve` as clients use it: the real OpenAI Python client and curl against the built
binary on loopback. Plain, streamed, multi-image and multi-turn requests; malformed requests with
their status and error body; the API key; SIGTERM finishing the request in flight and exiting 0.
Run by ctest through tests/serve/run_with_serve_venv.sh (the venv scripts/setup.sh makes).
"""

import argparse
import base64
import json
import re
import signal
import subprocess
import threading
import unittest
from pathlib import Path

import openai
from openai import OpenAI

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "models/shapes/model"
LLAVA = ROOT / "tests/fixtures/llava/model"
STORIES = ROOT.parent / "shared/models/stories260k"
IMAGES = ROOT / "models/shapes/test/images"
BINARY = str(ROOT / "build/lightvlm")


class Server:
    def __init__(self, model, *flags):
        self.process = subprocess.Popen([BINARY, "serve", "-m", str(model), "--port", "0", "-t", "1",
                                         *flags], stderr=subprocess.PIPE, text=True)
        self.log = []
        for line in self.process.stderr:
            self.log.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError(f"serve did not start: {''.join(self.log)}")
        self.reader = threading.Thread(target=lambda: self.log.extend(self.process.stderr))
        self.reader.start()

    def client(self, api_key="none"):
        return OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=120)

    def curl(self, path, *args):
        """(status, body) of curl on the server."""
        out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args,
                              self.url + path], capture_output=True, text=True, check=True).stdout
        body, _, status = out.rpartition("\n")
        return int(status), body

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.reader.join()
        self.process.stderr.close()
        return code


def image_part(name):
    data = base64.b64encode((IMAGES / name).read_bytes()).decode()
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + data}}


def cli_answer(model, question, *images, tokens=8):
    """The CLI's greedy answer to the same question: one request, no server."""
    args = [BINARY, "run", "-m", str(model), "-p", question, "-n", str(tokens), "-t", "1"]
    for image in images:
        args += ["--image", str(IMAGES / image)]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


class ShapesServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SHAPES, "--alias", "shapes", "--max-body", "200000")
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def ask(self, messages, **kwargs):
        return self.client.chat.completions.create(model="shapes", messages=messages,
                                                   max_tokens=8, temperature=0, **kwargs)

    def test_plain_and_streamed_answers_equal_the_cli(self):
        messages = [{"role": "user", "content": [image_part("test_00000.png"),
                                                 {"type": "text", "text": "What colour is the square?"}]}]
        reply = self.ask(messages)
        answer = reply.choices[0].message.content
        self.assertEqual(answer, cli_answer(SHAPES, "What colour is the square?", "test_00000.png"))
        self.assertEqual(reply.choices[0].finish_reason, "stop")
        self.assertEqual(reply.model, "shapes")
        self.assertGreater(reply.usage.prompt_tokens, 256)
        stream = self.ask(messages, stream=True, stream_options={"include_usage": True})
        pieces, finish, usage = [], None, None
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        self.assertEqual("".join(pieces), answer)
        self.assertEqual(finish, "stop")
        self.assertEqual(usage.completion_tokens, reply.usage.completion_tokens)

    def test_several_turns_and_the_method_extension(self):
        first = [{"role": "user", "content": [image_part("test_00001.png"),
                                              {"type": "text", "text": "What colour is the circle?"}]}]
        answer = self.ask(first).choices[0].message.content
        turns = first + [{"role": "assistant", "content": answer},
                         {"role": "user", "content": "What colour is the square?"}]
        second = self.ask(turns)
        self.assertGreater(second.usage.prompt_tokens, 256)
        # The first turn's KV cache (its image included) was continued, not prefilled again.
        self.assertGreater(second.usage.prompt_tokens_details.cached_tokens, 256)
        reduced = self.ask(first, extra_body={"lightvlm": {"reduce": "lightvlm", "keep": 0.35}})
        self.assertTrue(reduced.choices[0].message.content)

    def test_models_health_and_metrics(self):
        self.assertEqual([m.id for m in self.client.models.list()], ["shapes"])
        status, body = self.server.curl("/health")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
        status, body = self.server.curl("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("# TYPE lightvlm_requests_total counter", body)
        self.assertIn("lightvlm_image_tokens_kept_total", body)

    def test_bad_requests_through_the_client(self):
        with self.assertRaises(openai.BadRequestError) as caught:
            self.ask([{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}},
                {"type": "text", "text": "?"}]}])
        self.assertEqual(caught.exception.status_code, 400)
        self.assertEqual(caught.exception.code, "invalid_image_url")
        with self.assertRaises(openai.BadRequestError) as caught:
            self.client.chat.completions.create(model="gpt-4o", messages=[
                {"role": "user", "content": "hi"}])
        self.assertEqual(caught.exception.code, "model_not_found")
        with self.assertRaises(openai.BadRequestError) as caught:
            self.ask([{"role": "user", "content": "x " * 600}])
        self.assertEqual(caught.exception.code, "context_length_exceeded")

    def test_malformed_requests_with_curl(self):
        def post(body):
            """(status, error code) of curl posting `body` (bytes) from stdin."""
            out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                                  "-H", "Content-Type: application/json", "--data-binary", "@-",
                                  self.server.url + "/v1/chat/completions"],
                                 input=body, capture_output=True, check=True).stdout.decode()
            text, _, status = out.rpartition("\n")
            return int(status), json.loads(text)["error"]["code"]

        def image_request(url):
            return json.dumps({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}}]}]}).encode()

        cases = [
            (b'{"messages": [', 400, "invalid_json"),
            (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', 400, "invalid_utf8"),
            (image_request("data:image/png;base64," + base64.b64encode(b"not a png").decode()),
             400, "invalid_image"),
            (image_request("data:image/png;base64,!!!!"), 400, "invalid_image_url"),
            (image_request("https://example.com/a.png"), 400, "invalid_image_url"),
            (json.dumps({"messages": [{"role": "user", "content": "x" * 300000}]}).encode(), 413,
             "request_too_large"),
        ]
        for body, status, code in cases:
            with self.subTest(code=code):
                self.assertEqual(post(body), (status, code))


class TwoImagesTest(unittest.TestCase):
    def test_two_images_in_one_turn_streamed_and_plain(self):
        server = Server(LLAVA, "--context", "2048")
        try:
            client = server.client()
            messages = [{"role": "user", "content": [image_part("test_00000.png"),
                                                     image_part("test_00001.png"),
                                                     {"type": "text", "text": "Which differs?"}]}]
            reply = client.chat.completions.create(model="model", messages=messages, max_tokens=6,
                                                   temperature=0)
            self.assertGreater(reply.usage.prompt_tokens, 2 * 576)
            streamed = "".join(c.choices[0].delta.content or "" for c in
                               client.chat.completions.create(model="model", messages=messages,
                                                              max_tokens=6, temperature=0,
                                                              stream=True) if c.choices)
            self.assertEqual(streamed, reply.choices[0].message.content)
            self.assertEqual(reply.choices[0].message.content,
                             cli_answer(LLAVA, "Which differs?", "test_00000.png",
                                        "test_00001.png", tokens=6))
        finally:
            self.assertEqual(server.stop(), 0)


class ApiKeyAndShutdownTest(unittest.TestCase):
    def test_api_key(self):
        server = Server(STORIES, "--api-key", "sesame", "--context", "512")
        try:
            with self.assertRaises(openai.AuthenticationError):
                server.client("wrong").models.list()
            self.assertEqual(server.curl("/v1/models")[0], 401)
            reply = server.client("sesame").chat.completions.create(
                model="stories260k", messages=[{"role": "user", "content": "Once upon a time"}],
                max_tokens=5)
            self.assertEqual(reply.usage.completion_tokens, 5)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sigterm_finishes_the_request_in_flight_and_exits_0(self):
        server = Server(STORIES, "--context", "512", "--grace", "60")
        stream = server.client().chat.completions.create(
            model="stories260k", messages=[{"role": "user", "content": "Once upon a time"}],
            max_tokens=400, stream=True, stream_options={"include_usage": True})
        chunks = iter(stream)
        next(chunks)
        server.process.send_signal(signal.SIGTERM)
        usage = None
        for chunk in chunks:
            usage = chunk.usage or usage
        self.assertEqual(usage.completion_tokens, 400)
        self.assertEqual(server.stop(), 0)
        self.assertTrue(any("signal" in line for line in server.log))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=BINARY)
    args, rest = parser.parse_known_args()
    BINARY = args.binary
    unittest.main(argv=[__file__, *rest])
