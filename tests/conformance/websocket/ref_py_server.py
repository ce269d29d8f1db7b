"""Reference echo server on python3-websockets: python3 ref_py_server.py PORT [--deflate]"""
import asyncio, signal, sys
import websockets

async def echo(ws, path):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass

async def main():
    port = int(sys.argv[1])
    comp = "deflate" if "--deflate" in sys.argv else None
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, max_size=10 * 1024 * 1024,
                                compression=comp, ping_interval=None):
        print("listening", flush=True)
        await stop

asyncio.run(main())
