# Stage 3: teachers per model family, distilled students, students without teacher, each per seed;
# optional tuners. Training rules declare gpu=1: the SLURM profile sends them to a GPU partition.


rule train_teacher:
    input:
        unpack(get_training_inputs("teacher")),
    output:
        ckpt="results/models/{dataset}/{family}_teacher/seed{seed}/best.ckpt",
        meta="results/models/{dataset}/{family}_teacher/seed{seed}/best.json",
        metrics="results/models/{dataset}/{family}_teacher/seed{seed}/metrics.csv",
    params:
        training=config["training"],
        sizes=lambda wildcards: get_model_sizes(wildcards.family, "teacher"),
        role="teacher",
        shards="results/shards/{dataset}",
        code=code_version("train"),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/train/{dataset}/{family}_teacher/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{family}_teacher/seed{seed}.tsv"
    script:
        "../scripts/train.py"


rule distill_student:
    """The student architecture trained from the teacher of the same seed."""
    input:
        unpack(get_training_inputs("student")),
        teacher="results/models/{dataset}/{family}_teacher/seed{seed}/best.ckpt",
    output:
        ckpt="results/models/{dataset}/{family}_student/seed{seed}/best.ckpt",
        meta="results/models/{dataset}/{family}_student/seed{seed}/best.json",
        metrics="results/models/{dataset}/{family}_student/seed{seed}/metrics.csv",
    params:
        training=config["training"],
        sizes=lambda wildcards: get_model_sizes(wildcards.family, "student"),
        role="student",
        shards="results/shards/{dataset}",
        code=code_version("train"),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/train/{dataset}/{family}_student/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{family}_student/seed{seed}.tsv"
    script:
        "../scripts/train.py"


rule train_student_scratch:
    """The student architecture trained without a teacher: what distillation is measured against."""
    input:
        unpack(get_training_inputs("student_scratch")),
    output:
        ckpt="results/models/{dataset}/{family}_student_scratch/seed{seed}/best.ckpt",
        meta="results/models/{dataset}/{family}_student_scratch/seed{seed}/best.json",
        metrics="results/models/{dataset}/{family}_student_scratch/seed{seed}/metrics.csv",
    params:
        training=config["training"],
        sizes=lambda wildcards: get_model_sizes(wildcards.family, "student_scratch"),
        role="student_scratch",
        shards="results/shards/{dataset}",
        code=code_version("train"),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/train/{dataset}/{family}_student_scratch/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{family}_student_scratch/seed{seed}.tsv"
    script:
        "../scripts/train.py"


rule find_batch_size:
    input:
        train="results/shards/{dataset}/train",
        teacher=get_tuning_teacher,
    output:
        result="results/tuning/{dataset}/{family}_{role}/batch_size.json",
    params:
        training=config["training"],
        tuning=config["tuning"],
        sizes=lambda wildcards: get_model_sizes(wildcards.family, wildcards.role),
        shards="results/shards/{dataset}",
        code=code_version("train"),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/tuning/{dataset}/{family}_{role}_batch_size.log",
    script:
        "../scripts/find_batch_size.py"


rule find_lr:
    input:
        train="results/shards/{dataset}/train",
        teacher=get_tuning_teacher,
        batch_size=get_tuned_batch_size,
    output:
        result="results/tuning/{dataset}/{family}_{role}/lr_find.json",
        curve="results/tuning/{dataset}/{family}_{role}/lr_find.csv",
        plot="results/tuning/{dataset}/{family}_{role}/lr_find.png",
    params:
        training=config["training"],
        tuning=config["tuning"],
        sizes=lambda wildcards: get_model_sizes(wildcards.family, wildcards.role),
        shards="results/shards/{dataset}",
        code=code_version("train"),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/tuning/{dataset}/{family}_{role}_lr.log",
    script:
        "../scripts/find_lr.py"
