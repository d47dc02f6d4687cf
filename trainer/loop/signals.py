"""Stop signals caught between compiled calls, so that a run interrupted by Ctrl-C or SIGTERM can save a
checkpoint before it ends."""

import signal
import threading


class StopSignals:
    """While active, SIGINT and SIGTERM only set `received` (and call `then`, if given), so the train loop can
    checkpoint and stop between two compiled calls. Outside the main thread, where Python cannot catch signals,
    it does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, then=None):
        self.then = then

    def __enter__(self):
        self.received, self._previous = None, {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._catch) for sig in self.SIGNALS}
        return self

    def _catch(self, signum, frame):
        self.received = signal.Signals(signum)
        if self.then is not None:
            self.then()

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
