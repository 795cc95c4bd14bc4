/work/main/.build/llama.cpp/bin/llama-bench -m /work/main/.build/vs-llamacpp/step-wide-q4_k_m.gguf -o jsonl -r 2 -t 2 -ctk f16 -ctv f16 -b 2048 -ub 512 -d 0 -p 0 -n 128
