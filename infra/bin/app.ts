#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { createSuite } from '../lib/app';

createSuite(new App());
