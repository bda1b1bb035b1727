#!/usr/bin/env node
// Prints the README's list of what each function may do (`npm run permissions`).
import { permissionsMarkdown } from '../lib/permissions';

process.stdout.write(`${permissionsMarkdown()}\n`);
