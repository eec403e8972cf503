"""Another request writing between a service's checks and its save, simulated in one test."""


def taken_after_the_checks(monkeypatch, model, take) -> None:
    """Another request takes the key at the same moment: the checks pass (nothing holds the key
    yet), then `take` writes the clashing row before this request saves."""
    full_clean = model.full_clean

    def full_clean_then_taken(self, *args, **kwargs):
        full_clean(self, *args, **kwargs)
        take()

    monkeypatch.setattr(model, "full_clean", full_clean_then_taken)
