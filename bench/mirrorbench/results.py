"""The figures gathered by the scenarios, by table, group and row."""
import statistics


class Results:
    def __init__(self):
        self.values = {}  # (table, group, row) -> [numbers]

    def add(self, table, group, row, value):
        self.values.setdefault((table, group, row), []).append(value)

    def get(self, table, group, row):
        return self.values.get((table, group, row), [])

    def median(self, table, group, row):
        v = self.get(table, group, row)
        return statistics.median(v) if v else None

    def rows(self, table):
        return [(g, r) for (t, g, r) in self.values if t == table]


def spread(values, unit="s", digits=3):
    if not values:
        return "–"
    return (f"**{statistics.median(values):.{digits}f}** {unit} "
            f"({min(values):.{digits}f}–{max(values):.{digits}f})")


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


def in_order(round_index, steps):
    """Alternating rounds: the steps in order, then reversed."""
    return steps if round_index % 2 == 0 else list(reversed(steps))
