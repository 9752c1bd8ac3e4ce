# Stage 3: per model family and seed, a teacher, a distilled student (its teacher of the same seed in
# the loop) and a student without teacher; optional tuners. Training rules declare GPUs (train: config
# distributed.<role>, one task per GPU; the tuners one): the SLURM profile sends them to a GPU partition.


rule train:
    input:
        unpack(get_training_inputs),
    output:
        ckpt="results/{run}/models/{dataset}/{family}_{role}/seed{seed}/best.ckpt",
        meta="results/{run}/models/{dataset}/{family}_{role}/seed{seed}/best.json",
        metrics="results/{run}/models/{dataset}/{family}_{role}/seed{seed}/metrics.csv",
    log:
        "logs/{run}/train/{dataset}/{family}_{role}/seed{seed}.log",
    benchmark:
        "results/{run}/benchmarks/train/{dataset}/{family}_{role}/seed{seed}.tsv"
    # one torch thread: a 2-thread job beside one busy core trains at 0.27x its idle speed, a 1-thread job at
    # 1.0x (benchmarks/threads_under_load.py); two 1-thread trainings run side by side instead
    threads: 1
    # distributed.<role>: one task per GPU; the SLURM profiles add runtime, mem_mb (growing with attempt),
    # the partition, the CPUs per task and the warning signal before the time limit
    resources:
        gpu=get_train_gpus,
        nodes=get_train_nodes,
        tasks=get_train_tasks,
        tasks_per_gpu=1,
        mpi=get_train_mpi,
    params:
        training=get_training_settings,
        launch=get_train_launch,
        sizes=get_model_sizes,
        code=code_version("train"),
    script:
        "../scripts/run_stage.py"


rule find_batch_size:
    input:
        train="results/{run}/shards/{dataset}/train",
        teacher=get_tuning_teacher,
    output:
        result="results/{run}/tuning/{dataset}/{family}_{role}/batch_size.json",
    log:
        "logs/{run}/tuning/{dataset}/{family}_{role}_batch_size.log",
    threads: 2
    resources:
        gpu=1,
    params:
        training=get_training_settings,
        max_batch_size=config["tuning"]["max_batch_size"],
        target_memory_usage=config["tuning"]["target_memory_usage"],
        memory_budget_mb=config["tuning"]["memory_budget_mb"],
        sizes=get_model_sizes,
        code=code_version("find_batch_size"),
    script:
        "../scripts/run_stage.py"


rule find_lr:
    input:
        train="results/{run}/shards/{dataset}/train",
        teacher=get_tuning_teacher,
        batch_size=get_tuned_batch_size,
    output:
        result="results/{run}/tuning/{dataset}/{family}_{role}/lr_find.json",
        curve="results/{run}/tuning/{dataset}/{family}_{role}/lr_find.csv",
        plot="results/{run}/tuning/{dataset}/{family}_{role}/lr_find.png",
    log:
        "logs/{run}/tuning/{dataset}/{family}_{role}_lr.log",
    threads: 2
    resources:
        gpu=1,
    params:
        training=get_training_settings,
        lr_steps=config["tuning"]["lr_steps"],
        sizes=get_model_sizes,
        code=code_version("find_lr"),
    script:
        "../scripts/run_stage.py"
