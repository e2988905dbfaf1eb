from gateway.metrics import Metrics


def test_a_labelled_child_is_made_once_and_counts_into_the_exposition() -> None:
    metrics = Metrics()
    first = metrics.received.labels("telegram", "202")
    assert metrics.received.labels("telegram", "202") is first
    assert metrics.received.labels("slack", "202") is not first

    first.inc()
    metrics.received.labels("telegram", "202").inc(2)

    exposition = metrics.render().decode()
    assert 'botgate_events_received_total{platform="telegram",status="202"} 3.0' in exposition
    assert 'botgate_events_received_total{platform="slack",status="202"} 0.0' in exposition
