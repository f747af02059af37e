"""Real-server tests that read a day's or a week's board. A test cannot set a real server's
clock, which is the machine's, so a run that crosses midnight UTC (a week, too, turns only
at a midnight) may play in one window and read the next."""

from scoreboard.core import clock, periods


def today() -> str:
    """The UTC day now, as the server names its window."""
    return periods.day_key(clock.system_now())


def in_one_day(scenario, afresh):
    """``scenario()``'s result. A failure in a run that crossed midnight UTC calls
    ``afresh()`` (a new database and server) and runs the scenario once more: it then lies
    wholly in the new day, as a test takes minutes at most. No expectation is loosened, and
    a failure within one day fails as it is."""
    began = today()
    try:
        return scenario()
    except Exception as failure:
        if today() == began:
            raise
        print(f"the run crossed into {today()} ({failure!r}): once more, in the new day")
    afresh()
    return scenario()
