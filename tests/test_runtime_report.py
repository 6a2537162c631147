import json
import os

import pytest
import torch

from gan_tutorial import report, runtime


def test_preset_from_name_env_and_default(monkeypatch):
    assert runtime.preset("smoke") == "smoke"
    assert runtime.preset(" CPU ") == "cpu"
    monkeypatch.setenv(runtime.ENV_PRESET, "gpu")
    assert runtime.preset() == "gpu"
    monkeypatch.delenv(runtime.ENV_PRESET)
    assert runtime.preset() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        runtime.preset("laptop")


def test_device_is_a_torch_device(monkeypatch):
    monkeypatch.setenv("GAN_TUTORIAL_DEVICE", "cpu")
    assert runtime.device() == torch.device("cpu")


def test_synchronize_waits_per_device_kind(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda dev=None: calls.append(("cuda", dev)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    runtime.synchronize("cpu")                       # nothing queued on the CPU: no call
    runtime.synchronize(torch.device("cpu"))
    assert calls == []
    runtime.synchronize("cuda:1")
    runtime.synchronize("mps")
    assert calls == [("cuda", torch.device("cuda:1")), ("mps", None)]
    with pytest.raises(RuntimeError, match="gpu"):
        runtime.synchronize("gpu")                   # not a device name


def test_seed_everything_repeats_and_rejects_non_integers():
    runtime.seed_everything(3)
    a = torch.rand(4)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(4))
    with pytest.raises(TypeError):
        runtime.seed_everything(1.5)


TABLE = {"smoke": dict(seed=0, steps=10), "cpu": dict(seed=0, steps=100), "gpu": dict(seed=1, steps=1000)}


def test_configure_explicit_values_win():
    cfg = runtime.configure("nb", "cpu", dict(seed=None, steps=7), TABLE)
    assert (cfg.preset, cfg.seed, cfg.steps) == ("cpu", 0, 7)
    assert runtime.current_run().parameters == {"seed": 0, "steps": 7}


def test_configure_rejects_unknown_knob_and_incomplete_table():
    with pytest.raises(ValueError, match="lr"):
        runtime.configure("nb", "cpu", dict(lr=None), TABLE)
    with pytest.raises(ValueError, match="gpu"):
        runtime.configure("nb", "cpu", {}, {"smoke": {}, "cpu": {}})


@pytest.mark.parametrize("value,target,ok", [
    (8, ">= 8", True), (7.9, ">= 8", False), (0.5, "< 0.6", True), (3, "in [1, 3]", True),
    (3.1, "in [1, 3]", False), (float("nan"), "<= 1", False), (2, "== 2", True), (1e-7, "< 1e-6", True)])
def test_check_targets(value, target, ok):
    assert report.check(value, target) is ok


def test_check_rejects_unreadable_target():
    with pytest.raises(ValueError, match="at least 3"):
        report.check(1, "at least 3")


def test_publish_appends_records_atomically(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results.json"
    monkeypatch.setenv(report.ENV_RESULTS, str(out))
    runtime.configure("03_demo", "smoke", dict(seed=None, steps=None), TABLE)
    rec = report.publish({"modes": 8, "hq": 0.4}, {"modes": ">= 8", "hq": ">= 0.5"})
    assert rec["met"] is False and rec["notebook"] == "03_demo" and rec["preset"] == "smoke"
    report.publish({"modes": 8}, {"modes": ">= 8"})
    records = json.loads(out.read_text())
    assert [r["met"] for r in records] == [False, True]
    assert set(records[0]) == {"notebook", "preset", "parameters", "environment", "seconds", "metrics",
                               "targets", "met"}
    assert records[0]["environment"]["threads"] == str(torch.get_num_threads())
    assert records[0]["environment"]["torch"] == torch.__version__
    assert records[0]["environment"]["cpu"] == runtime.cpu_name()
    assert records[0]["parameters"] == {"seed": 0, "steps": 10}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert "MISSED: hq" in capsys.readouterr().out


def test_cpu_name_gives_the_vector_instructions_and_survives_a_missing_cpuinfo(monkeypatch, tmp_path):
    capability = torch.backends.cpu.get_cpu_capability()
    name = runtime.cpu_name()
    assert name.endswith(f" ({capability})") and len(name) > len(capability) + 3

    monkeypatch.setattr(runtime.platform, "processor", lambda: "")
    monkeypatch.setattr(runtime.platform, "machine", lambda: "x86_64")
    assert runtime.cpu_name(tmp_path / "no_cpuinfo") == f"x86_64 ({capability})"


def test_machine_line_names_device_cpu_torch_and_threads():
    line = runtime.machine_line("cpu")
    assert line == (f"device cpu, CPU {runtime.cpu_name()}, torch {torch.__version__}, "
                    f"{torch.get_num_threads()} CPU threads")
    assert runtime.device_name("cpu") == "cpu" and runtime.environment()["device"] == runtime.device_name()


def test_publish_rejects_targets_without_metric_and_non_numbers():
    with pytest.raises(KeyError, match="fid"):
        report.publish({"modes": 1}, {"fid": "< 10"})
    with pytest.raises(TypeError, match="modes"):
        report.publish({"modes": "many"})


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    report.atomic_write_text(path, "old")

    with pytest.raises(TypeError):
        report.atomic_write_text(path, 12345)  # not text: the write fails
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_threads_follow_the_environment_and_reject_nonsense(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(runtime.ENV_THREADS, "1")
        assert runtime.set_threads(2) == 1 and torch.get_num_threads() == 1   # the environment wins
        monkeypatch.setenv(runtime.ENV_THREADS, "many")
        with pytest.raises(ValueError, match="GAN_TUTORIAL_THREADS"):
            runtime.set_threads()
        monkeypatch.delenv(runtime.ENV_THREADS)
        assert runtime.set_threads(1) == 1
        with pytest.raises(ValueError, match="positive"):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_busy_cpus_reads_the_running_count_less_this_process(tmp_path):
    f = tmp_path / "loadavg"
    f.write_text("1.52 1.20 0.90 3/412 12345\n")
    assert runtime.busy_cpus(f, samples=3, interval=0) == 2
    f.write_text("0.00 0.00 0.00 1/100 1\n")
    assert runtime.busy_cpus(f, samples=1) == 0
    assert runtime.busy_cpus(tmp_path / "missing") == 0          # no /proc: nothing known, nothing held back
    f.write_text("garbage\n")
    assert runtime.busy_cpus(f, samples=1) == 0


def test_default_threads_leave_out_cpus_that_others_are_busy_on(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv(runtime.ENV_THREADS, raising=False)
    monkeypatch.setattr(runtime, "_DEFAULT_THREADS", 4)
    monkeypatch.setattr(runtime, "available_cpus", lambda: 4)
    monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    try:
        monkeypatch.setattr(runtime, "busy_cpus", lambda: 1)
        assert runtime.set_threads() == 3
        monkeypatch.setattr(runtime, "busy_cpus", lambda: 9)
        assert runtime.set_threads() == 1                            # never fewer than one
        monkeypatch.setattr(runtime, "busy_cpus", lambda: 0)
        assert runtime.set_threads() == 4                            # back up once the others stop
        monkeypatch.setattr(runtime, "_cgroup_cpu_quota", lambda: 4)
        monkeypatch.setattr(runtime, "busy_cpus", lambda: 3)         # inside a quota: the host's load is not ours
        assert runtime.set_threads() == 4
    finally:
        torch.set_num_threads(before)
